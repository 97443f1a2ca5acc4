import { ApiProperty } from '@nestjs/swagger';
import { StringField } from 'src/common/validation/fields';
import { PASSWORD_MAX_LENGTH } from 'src/modules/console-auth/password-hasher';

/** `POST /api/login`. */
export class LoginDto {
  @ApiProperty({ example: 'admin', maxLength: 64 })
  @StringField({ required: true, maxLength: 64 })
  username: string;

  @ApiProperty({ format: 'password', maxLength: PASSWORD_MAX_LENGTH })
  @StringField({ required: true, maxLength: PASSWORD_MAX_LENGTH })
  password: string;
}

/** `GET /api/me` and `POST /api/login`: who is signed in, and the token for mutations. */
export class MeResponseDto {
  @ApiProperty({ enum: [true] })
  authenticated: true;

  @ApiProperty({ example: 'admin' })
  user: string;

  @ApiProperty({ enum: ['admin', 'viewer'] })
  role: 'admin' | 'viewer';

  @ApiProperty({ description: 'Send as x-csrf-token on every mutating request' })
  csrf_token: string;
}
